#include "CToolformerShims.h"
