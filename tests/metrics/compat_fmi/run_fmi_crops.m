% run_fmi_crops.m -- FMI of Linfeng-Tang/Evaluation-for-Image-Fusion's analysis_fmi.m on image crops.
% Usage: octave-cli --no-gui run_fmi_crops.m JOBS.tsv OUT.csv
%   JOBS.tsv: case<TAB>ir_path<TAB>vi_path<TAB>fused_path<TAB>row0<TAB>col0<TAB>height<TAB>width<TAB>feature
%   (row0/col0 0-based top-left of the crop; feature 'dct' or 'none').
% Images are read as Evaluation_for_Multi_Algorithm.m reads them (imread; rgb2gray only for colour),
% CROPPED as uint8 arrays, then converted as analysis_Reference's easy==0 branch does
% (im2double(x) * 255.0) and passed to analysis_fmi(ir, vi, f, feature) unchanged.
% Environment: TANG_EVAL = the repo's Evaluation/ folder, TANG_SHIMS = the shims folder.
args = argv();
pkg load image
pkg load signal
addpath(getenv('TANG_EVAL'));
addpath(getenv('TANG_SHIMS'));
fid = fopen(args{1}, 'r');
fout = fopen(args{2}, 'a');
while true
  line = fgetl(fid);
  if ~ischar(line), break; end
  if isempty(line) || line(1) == '#', continue; end
  f = strsplit(line, "\t");
  ims = cell(1, 3);
  for k = 1:3
    x = imread(f{k + 1});
    if size(x, 3) > 2
      x = rgb2gray(x);
    end
    r0 = str2double(f{5}); c0 = str2double(f{6}); h = str2double(f{7}); w = str2double(f{8});
    ims{k} = x(r0 + 1:r0 + h, c0 + 1:c0 + w);
  end
  img1_float = im2double(ims{1}) * 255.0;
  img2_float = im2double(ims{2}) * 255.0;
  img_f_float = im2double(ims{3}) * 255.0;
  t0 = tic;
  v = analysis_fmi(img1_float, img2_float, img_f_float, f{9});
  fprintf(fout, '%s,%s,%s,%s,%s,%s,%s,%s,%s,%.17g,%.1f\n', f{1}, f{2}, f{3}, f{4}, f{5}, f{6}, f{7}, f{8}, f{9}, v, toc(t0));
  fflush(fout);
end
fclose(fid); fclose(fout);
