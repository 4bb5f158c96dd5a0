/* objstore.c: placeholder, being written */
