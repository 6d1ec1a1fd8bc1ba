"""Small shared helpers (progress bars, hashing, parallel maps)."""
