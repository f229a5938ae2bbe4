# station/ui/embed.cmake - turns a file into a C array (the station page's
# HTML, CSS and JS), so the binary serves it without reading any file:
#   cmake -DIN=page.html -DOUT=ui_page.c -DNAME=ui_page_html -P embed.cmake
# The array ends in a NUL not counted in NAME_len.
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" n)
math(EXPR bytes "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
string(REGEX REPLACE "((0x..,){16})" "\\1\n" body "${body}")
file(WRITE "${OUT}"
  "/* generated from ${IN} by station/ui/embed.cmake: do not edit */\n"
  "#include <stddef.h>\n"
  "const char ${NAME}[] = {\n${body}0x00};\n"
  "const size_t ${NAME}_len = ${bytes};\n")
