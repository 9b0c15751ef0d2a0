"""Job entry points (RQ or the embedded worker): take ids, open an app context, call ONE service function."""
