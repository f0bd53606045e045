#ifndef CTOOLFORMER_SHIMS_H
#define CTOOLFORMER_SHIMS_H
/* Mirror of Linux's struct ucred (SO_PEERCRED). Glibc only declares it under _GNU_SOURCE, and a
   shim that defines _GNU_SOURCE clashes with NIO's own C modules, so this header includes nothing. */
struct toolformer_ucred {
    int pid;
    unsigned int uid;
    unsigned int gid;
};
#endif
