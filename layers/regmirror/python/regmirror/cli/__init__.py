"""Command line adapter: parser, commands, rendering, daemon."""
