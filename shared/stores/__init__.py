"""Where runs are recorded: the store interface, MongoDB, Supabase, and both mirrored."""
