/* ipc_read.c: placeholder, being written */
