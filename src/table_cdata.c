/* table_cdata.c: placeholder, being written */
