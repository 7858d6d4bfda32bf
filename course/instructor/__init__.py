"""What an instructor gets out: LMS downloads collected, the report, LMS exports, similarity, the hub's config."""
