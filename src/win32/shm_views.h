/* SPDX-License-Identifier: MIT */
/* Inside the Windows backend: views of file mappings that keep their
 * mapping's handle until unmapped (src/win32/shm.c), shared by the shared
 * objects' segments and the named blocks of src/win32/shm_block.c. */
#ifndef MPROC_WIN32_SHM_VIEWS_H
#define MPROC_WIN32_SHM_VIEWS_H

#include <stddef.h>

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

/* Map all of the mapping and keep its handle with the view (Wine drops a
 * mapping's name with its last handle even while views remain); the
 * handle is closed here on failure. *region receives the mapped size. */
int mproc__win32_map_view(HANDLE mapping, void **base, size_t *region);

/* Unmap the view and close its mapping handle. */
void mproc__win32_drop_view(void *base);

#endif
