#!/bin/sh
# Writes the placeholder spoken prompts with espeak-ng's Vietnamese and English
# voices (apt-get install espeak-ng). A commune replaces any of them with its
# own recording of the same name: WAV (or OGG where the tablet plays it), mono.
set -eu
cd "$(dirname "$0")"
say() { # language voice file text
  mkdir -p "$1"
  espeak-ng -v "$2" -s 140 -a 160 -w "$1/$3.wav" "$4"
}
say vi vi question "Mời ông bà chạm vào một hình để đánh giá."
say vi vi reasons_low "Ông bà chưa hài lòng về điều gì? Xin chạm vào các ý bên dưới."
say vi vi reasons_high "Điều gì làm ông bà hài lòng? Xin chạm vào các ý bên dưới."
say vi vi thanks "Cảm ơn ông bà đã đánh giá."
say en en-gb question "Please touch a face to rate our service."
say en en-gb reasons_low "What were you not satisfied with? Please touch the reasons below."
say en en-gb reasons_high "What did you like? Please touch the reasons below."
say en en-gb thanks "Thank you for your rating."
