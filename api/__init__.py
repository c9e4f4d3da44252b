"""The plan service: FastAPI over a database, background jobs, resident lookup and exports."""
