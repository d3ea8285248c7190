# cmake -DFILE=<ELF file> -P debian/remove-rpath.cmake: drops its RPATH/RUNPATH.
file(RPATH_REMOVE FILE "${FILE}")
