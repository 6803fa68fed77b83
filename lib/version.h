/* version.h - the parrun version, one place. */
#ifndef PR_VERSION_H
#define PR_VERSION_H

#define PR_VERSION "0.1.0"

#endif
