# meridian_bpf_object(): compiles one BPF C file with clang's BPF target, outside the host flags
# (no -Werror for host code, no sanitizers) but with its own strict set. Used for the XDP program,
# the small helper programs, and the BPF checks of the shared C headers in tests.
#   meridian_bpf_object(OUT_VAR SOURCE src.bpf.c [DEPENDS headers...] [COMMENT text])
# sets OUT_VAR to the object path (${CMAKE_CURRENT_BINARY_DIR}/<name>.o).
find_program(BPF_CLANG NAMES clang-14 clang REQUIRED)
execute_process(COMMAND ${BPF_CLANG} -print-multiarch
                OUTPUT_VARIABLE MERIDIAN_MULTIARCH OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT MERIDIAN_MULTIARCH)
  set(MERIDIAN_MULTIARCH ${CMAKE_LIBRARY_ARCHITECTURE})
endif()

function(meridian_bpf_object out_var)
  cmake_parse_arguments(ARG "" "SOURCE;COMMENT" "DEPENDS" ${ARGN})
  get_filename_component(name ${ARG_SOURCE} NAME_WE)
  set(object ${CMAKE_CURRENT_BINARY_DIR}/${name}.bpf.o)
  if(NOT ARG_COMMENT)
    set(ARG_COMMENT "Compiling ${name}.bpf.c (clang -target bpf)")
  endif()
  add_custom_command(
    OUTPUT ${object}
    COMMAND ${BPF_CLANG} -target bpf -O2 -g -Wall -Werror -I${PROJECT_SOURCE_DIR}/maps
            -I/usr/include/${MERIDIAN_MULTIARCH} -c ${ARG_SOURCE} -o ${object}
    DEPENDS ${ARG_SOURCE} ${ARG_DEPENDS} ${PROJECT_SOURCE_DIR}/maps/meridian_maps.h
    COMMENT "${ARG_COMMENT}")
  set(${out_var} ${object} PARENT_SCOPE)
endfunction()
