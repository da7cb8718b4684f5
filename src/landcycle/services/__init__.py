"""Use cases. Faces (CLI, API, pages) call these; these call storage. Each write is one transaction."""
