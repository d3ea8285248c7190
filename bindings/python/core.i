/*
 * actor._core: the low-level module SWIG generates from <actor/actor.h>,
 * plus the hand-written shim (shim.h). Private: the public API is the Python
 * package `actor` around it.
 *
 * Conventions of the generated functions
 * - An out-parameter `T **out` is not passed; the function returns
 *   (code, handle) with handle None on failure.
 * - A (payload, len) or (reply, len) pair is one argument: any object with
 *   the buffer protocol (bytes, bytearray, memoryview), or None.
 * - An `actor_ctx *ctx` is passed as an int (the dispatcher of Python actors
 *   receives it so); the package only does so inside that actor's callback.
 * - Functions taking C callbacks are not wrapped: the shim installs them.
 * - Blocking calls go through the shim (shim_responder_wait, shim_addr_join,
 *   shim_runtime_shutdown, shim_runtime_free, shim_spawn, ...), which
 *   release the GIL. The plain wrappers of the blocking C functions keep
 *   the GIL and are left out (%ignore) so they cannot be used by mistake.
 */
%module(package="actor") _core

%{
#define SWIG_FILE_WITH_INIT
#include <actor/actor.h>
#include "shim.h"
%}

%include <stdint.i>

/* ---- out-parameters: returned as the second item of (code, handle) ---- */
%define ACTOR_OUT_HANDLE(TYPE)
%typemap(in, numinputs=0) TYPE **out (TYPE *tmp = NULL) { $1 = ($1_ltype)&tmp; }
%typemap(argout) TYPE **out {
    PyObject *o;
    if (tmp$argnum) {
        o = SWIG_NewPointerObj(SWIG_as_voidptr(tmp$argnum), $*1_descriptor, 0);
    } else {
        Py_INCREF(Py_None);
        o = Py_None;
    }
    $result = SWIG_Python_AppendOutput($result, o);
}
%enddef
ACTOR_OUT_HANDLE(actor_runtime)
ACTOR_OUT_HANDLE(actor_class)
ACTOR_OUT_HANDLE(const actor_msgtype)
ACTOR_OUT_HANDLE(actor_addr)
ACTOR_OUT_HANDLE(actor_responder)
ACTOR_OUT_HANDLE(actor_promise)
ACTOR_OUT_HANDLE(shim_cqnode)
ACTOR_OUT_HANDLE(shim_room)
/* 1.1: actor_supervisor_start_child(..., actor_addr **child) too. */
%apply actor_addr **out { actor_addr **child };

/* addr_dropped: returns (code, count). */
%typemap(in, numinputs=0) unsigned long long *out (unsigned long long tmp = 0) { $1 = &tmp; }
%typemap(argout) unsigned long long *out {
    $result = SWIG_Python_AppendOutput($result, PyLong_FromUnsignedLongLong(tmp$argnum));
}

/* ---- byte payloads from the buffer protocol ---- */
/* `got` is initialized at its declaration: freearg also runs when an
 * earlier argument failed to convert, before this typemap ran. */
%typemap(in) (const void *payload, size_t len) (Py_buffer view, int got = 0) {
    if ($input == Py_None) {
        $1 = NULL;
        $2 = 0;
    } else {
        if (PyObject_GetBuffer($input, &view, PyBUF_SIMPLE) < 0)
            SWIG_fail;
        got = 1;
        $1 = view.buf;
        $2 = (size_t)view.len;
    }
}
%typemap(freearg) (const void *payload, size_t len) {
    if (got$argnum)
        PyBuffer_Release(&view$argnum);
}
%typemap(typecheck) (const void *payload, size_t len) {
    $1 = ($input == Py_None || PyObject_CheckBuffer($input)) ? 1 : 0;
}
%apply (const void *payload, size_t len) { (const void *reply, size_t len) };

/* ---- the context: an int, valid only during the actor's callback ---- */
%typemap(in) actor_ctx *ctx {
    $1 = (actor_ctx *)PyLong_AsVoidPtr($input);
    if (!$1) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "null actor context");
        SWIG_fail;
    }
}
%typemap(typecheck) actor_ctx *ctx { $1 = PyLong_Check($input) ? 1 : 0; }

/* shim_cq_new: NULL comes with a Python exception set. */
%typemap(out) shim_cq * {
    if (!$1)
        SWIG_fail;
    $result = SWIG_NewPointerObj(SWIG_as_voidptr($1), $1_descriptor, 0);
}

/* ---- PyObject* passes through ---- */
%typemap(in) PyObject *pyclass "$1 = $input;"
%typemap(in) PyObject *events "$1 = $input;"
%typemap(in) PyObject *requests "$1 = $input;"
%typemap(in) PyObject *handler "$1 = $input;"
%typemap(in) PyObject *instance "$1 = $input;"
%typemap(in) PyObject *fn "$1 = $input;"
%typemap(in) PyObject *record "$1 = $input;"

/* ---- the header ---- */
#define ACTOR_API
#define ACTOR_NODISCARD

/* No proxy classes for the header's structs (actor_stats, actor_hooks, the
 * spec structs of 1.1...): the package builds its own Python faces, and a
 * SWIG proxy class body would refer to the extension `__core`, a name
 * Python mangles inside a class. Functions taking them get opaque pointers. */
%rename("$ignore", %$isclass) "";

/* C callbacks cannot come from Python; the shim installs its own. */
%ignore actor_class_on_init;
%ignore actor_class_on_finalize;
%ignore actor_class_on_interrupt;
%ignore actor_class_on_fallback;
%ignore actor_class_on_event;
%ignore actor_class_on_request;
%ignore actor_class_on_response;
%ignore actor_class_on_any_event;
%ignore actor_class_on_any_request;
%ignore actor_class_on_down;
%ignore actor_class_on_data;
%ignore actor_runtime_set_hooks;
%ignore actor_runtime_new_on_base;
%ignore actor_class_set_state_free;
%ignore actor_responder_then;
%ignore actor_set_log_handler;
%ignore actor_log_fn;
%ignore actor_set_allocator;
/* A raw state pointer cannot be made from Python: spawn goes through the shim. */
%ignore actor_spawn;
/* Blocking: use the shim's versions, which release the GIL. */
%ignore actor_runtime_new;
%ignore actor_runtime_shutdown;
%ignore actor_runtime_free;
%ignore actor_responder_wait;
%ignore addr_join;
%ignore addr_send_wait;
/* A C callback: the package uses shim_room_watch (an eventfd). */
%ignore addr_on_room;
%ignore addr_release;
/* Replaced by shim_responder_bytes / shim_responder_free. */
%ignore actor_responder_data;
%ignore actor_responder_free;
/* The fd of one responder: the package uses its own completion queue. */
%ignore actor_responder_fd;

%include <actor/actor.h>

/* ---- the shim ---- */
%ignore shim_cq;
%include "shim.h"

/* ---- the asyncio fast path (aio.c): SWIG pointers without a wrapper call ---- */
%{
static swig_type_info *aio_swig_type(int kind)
{
    switch (kind) {
    case SHIM_PTR_ADDR: return SWIGTYPE_p_actor_addr;
    case SHIM_PTR_MSGTYPE: return SWIGTYPE_p_actor_msgtype;
    default: return SWIGTYPE_p_actor_responder;
    }
}

static void *aio_get_ptr(PyObject *obj, int kind)
{
    void *p = NULL;
    if (!SWIG_IsOK(SWIG_ConvertPtr(obj, &p, aio_swig_type(kind), 0)) || !p) {
        PyErr_SetString(PyExc_TypeError, "actor._core: not a pointer of the expected type");
        return NULL;
    }
    return p;
}

static PyObject *aio_new_ptr(void *ptr, int kind)
{
    return SWIG_NewPointerObj(ptr, aio_swig_type(kind), 0);
}

PyObject *shim_addr_obj(actor_addr *a)
{
    return SWIG_NewPointerObj(SWIG_as_voidptr(a), SWIGTYPE_p_actor_addr, 0);
}
%}
%init %{
    if (shim_aio_init(m, aio_get_ptr, aio_new_ptr) < 0)
        return NULL;
%}
