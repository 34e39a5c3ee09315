#define _GNU_SOURCE
#include <sched.h>
#include "CLinux.h"

int eni_setns(int fd, int nstype) { return setns(fd, nstype); }
