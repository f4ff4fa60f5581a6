"""Database fixtures: a real SQLite file and a throwaway PostgreSQL server (being written)."""
