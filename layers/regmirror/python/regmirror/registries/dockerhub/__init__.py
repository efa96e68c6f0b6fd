"""Docker Hub: its aliases, its web API lister and the index (v1 search) lister."""
