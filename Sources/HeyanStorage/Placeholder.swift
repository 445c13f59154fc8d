// The SQLite store lives here.
