/* jetstream.c: placeholder, being written */
