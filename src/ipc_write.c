/* ipc_write.c: placeholder, being written */
