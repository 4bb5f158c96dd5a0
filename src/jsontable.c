/* jsontable.c: placeholder, being written */
