"""Pure, typed models of the custom resources (pydantic v2); the CRD YAML is generated from them."""
