"""The pipeline, one file per stage: enumerate, check, copy (skopeo), pool, record, reports, run."""
