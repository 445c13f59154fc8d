// Service wiring lives here.
