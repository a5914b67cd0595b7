"""daemon room: the background hub - pidfile, detach, status file, stop, logs."""
