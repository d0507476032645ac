/* libscflow: the SCFlow Studio engine. One include for users of the library. */
#pragma once
#include "error.h"
#include "backend.h"
#include "device.h"
#include "tensor.h"
#include "half.h"
#include "rng.h"
#include "safetensors.h"
#include "optim.h"
#include "graph.h"
#include "genparams.h"
#include "image.h"
