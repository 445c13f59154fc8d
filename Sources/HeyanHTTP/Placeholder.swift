// HTTP/1.1, TLS and the event loops live here.
