"""Pure rules of a mapping: from/to matching (RE2, Go replacement), tag selection, semver, references."""
