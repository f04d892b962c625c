#ifndef GLOBALDNS_CSQLITE_SHIM_H
#define GLOBALDNS_CSQLITE_SHIM_H
#include <sqlite3.h>
#endif
