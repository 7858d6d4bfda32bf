"""Making the course: chapter sources built into notebooks, releases and pages, the scaffolds, the solutions site."""
