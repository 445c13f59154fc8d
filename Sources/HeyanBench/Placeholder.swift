// The load generator lives here (heyan bench).
