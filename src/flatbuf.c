/* flatbuf.c: placeholder, being written */
