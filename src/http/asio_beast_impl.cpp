// The one translation unit that compiles Asio, Asio's SSL layer and Beast (separate compilation:
// BOOST_ASIO_SEPARATE_COMPILATION and BOOST_BEAST_SEPARATE_COMPILATION are set project-wide on
// bastion_build_flags). Every other file includes only their declarations, which keeps builds
// fast; including these sources anywhere else would define the same symbols twice.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
