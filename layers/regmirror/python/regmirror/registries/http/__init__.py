"""The one HTTP stack of regmirror: registry API and web APIs (Docker Hub, search) alike."""
