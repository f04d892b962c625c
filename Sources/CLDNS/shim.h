#ifndef GLOBALDNS_CLDNS_SHIM_H
#define GLOBALDNS_CLDNS_SHIM_H
#include <stdio.h>
#include <ldns/ldns.h>
#endif
