"""Google Container Registry and Artifact Registry: tokens from Google application default credentials."""
