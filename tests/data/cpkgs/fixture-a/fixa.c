/* fixture source (our own text) */
#include "fixa.h"
int fixa_answer(void) { return 42; }
