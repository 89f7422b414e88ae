"""tag-generator: tags for every article."""
