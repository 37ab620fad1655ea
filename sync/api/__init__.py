"""The REST API (DRF): thin views over the sync handlers and the connection services."""
