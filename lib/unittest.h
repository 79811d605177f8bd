/* unittest.h - UNITTEST marks a function that is private to its file in
 * the product but callable from the unit tests, which link a copy of that
 * file built with -DMTAPROBE_UNITTEST.  Nothing is exported for tests'
 * sake alone. */
#ifndef MTAPROBE_UNITTEST_H
#define MTAPROBE_UNITTEST_H

#ifdef MTAPROBE_UNITTEST
#define UNITTEST
#else
#define UNITTEST static
#endif

#endif
