"""The core's Flask side: access control, request security, the API base, the web shell."""
