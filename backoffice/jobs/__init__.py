"""RQ entry points. Each takes ids, opens an app context and calls ONE service function."""
