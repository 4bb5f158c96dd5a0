/* table.c: placeholder, being written */
