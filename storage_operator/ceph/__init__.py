"""The only package that imports Ceph's Python bindings (rados, rbd, cephfs).

Per area, building a command, running it and parsing its JSON into a typed result are separate
functions; parsers are pure and tested with recorded JSON.
"""
