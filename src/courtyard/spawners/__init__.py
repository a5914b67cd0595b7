"""spawners room."""
