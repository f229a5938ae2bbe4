/* db/db.c: being written */
