"""Pipeline, state and the composable extractor base."""
