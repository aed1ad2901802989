/* Choosing the square of a portrait to keep, before it is uploaded.
   Without this script the server keeps the centre square; with it the admin
   sees the picture, moves the square (drag, or the arrow keys) and sizes it
   (the slider, or + and -), and the form sends crop_left, crop_top and
   crop_side in the picture's own pixels. The picture is read locally as a
   data: address (the pages' Content-Security-Policy allows no blob:). */
(function () {
  "use strict";

  function setUp(field) {
    var input = field.querySelector("input[type=file]");
    var box = field.querySelector("[data-crop-box]");
    var image = field.querySelector("[data-crop-image]");
    var frame = field.querySelector("[data-crop-frame]");
    var size = field.querySelector("[data-crop-size]");
    var out = {
      left: field.querySelector("[data-crop-left]"),
      top: field.querySelector("[data-crop-top]"),
      side: field.querySelector("[data-crop-side]")
    };
    var width = 0, height = 0, crop = { x: 0, y: 0, s: 0 }, drag = null;

    function clear() {
      out.left.value = out.top.value = out.side.value = "";
    }

    function largest() { return Math.min(width, height); }

    function draw() {
      if (!width) { return; }
      crop.s = Math.max(1, Math.min(Math.round(crop.s), largest()));
      crop.x = Math.max(0, Math.min(Math.round(crop.x), width - crop.s));
      crop.y = Math.max(0, Math.min(Math.round(crop.y), height - crop.s));
      var k = image.clientWidth / width;
      frame.style.left = crop.x * k + "px";
      frame.style.top = crop.y * k + "px";
      frame.style.width = crop.s * k + "px";
      frame.style.height = crop.s * k + "px";
      out.left.value = String(crop.x);
      out.top.value = String(crop.y);
      out.side.value = String(crop.s);
    }

    function resize(side) {
      var cx = crop.x + crop.s / 2, cy = crop.y + crop.s / 2;
      crop.s = side;
      crop.x = cx - side / 2;
      crop.y = cy - side / 2;
      draw();
    }

    input.addEventListener("change", function () {
      clear();
      var file = input.files && input.files[0];
      if (!file || !/^image\//.test(file.type)) { box.hidden = true; width = 0; return; }
      var reader = new FileReader();
      reader.onload = function () { image.src = String(reader.result); };
      reader.readAsDataURL(file);
    });

    image.addEventListener("load", function () {
      width = image.naturalWidth;
      height = image.naturalHeight;
      var side = largest();
      crop = { x: (width - side) / 2, y: (height - side) / 2, s: side };
      size.value = "100";
      box.hidden = false;
      draw();
    });
    image.addEventListener("error", function () { box.hidden = true; width = 0; clear(); });

    size.addEventListener("input", function () {
      resize(largest() * Number(size.value) / 100);
    });

    frame.addEventListener("pointerdown", function (event) {
      drag = { px: event.clientX, py: event.clientY, x: crop.x, y: crop.y };
      frame.setPointerCapture(event.pointerId);
      event.preventDefault();
    });
    frame.addEventListener("pointermove", function (event) {
      if (!drag) { return; }
      var k = image.clientWidth / width;
      crop.x = drag.x + (event.clientX - drag.px) / k;
      crop.y = drag.y + (event.clientY - drag.py) / k;
      draw();
    });
    function stop() { drag = null; }
    frame.addEventListener("pointerup", stop);
    frame.addEventListener("pointercancel", stop);

    frame.addEventListener("keydown", function (event) {
      var step = Math.max(1, Math.round(largest() / (event.shiftKey ? 10 : 50)));
      var moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
      if (moves[event.key]) {
        crop.x += moves[event.key][0];
        crop.y += moves[event.key][1];
        draw();
      } else if (event.key === "+" || event.key === "-") {
        var value = Number(size.value) + (event.key === "+" ? 5 : -5);
        size.value = String(Math.max(Number(size.min), Math.min(Number(size.max), value)));
        resize(largest() * Number(size.value) / 100);
      } else {
        return;
      }
      event.preventDefault();
    });

    window.addEventListener("resize", draw);
  }

  var fields = document.querySelectorAll("[data-crop]");
  for (var i = 0; i < fields.length; i += 1) { setUp(fields[i]); }
}());
